// Entry point of the `rlhf` command.
return 0;
