"""The corpus step: Brown sentences, the GPT-2 tokenizer, token streams, windows and prompts."""
