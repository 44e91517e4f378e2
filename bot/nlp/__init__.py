"""Chinese text processing shared by retrieval and the Rasa NLU pipeline: the jieba domain
dictionary and the tokenizer built on it."""
