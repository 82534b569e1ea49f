// Namespaces nearly every test file uses: the GPT-2 family (the tests' default model) and model folders.
global using Rlhf.Models.Gpt2;
global using Rlhf.Training;
