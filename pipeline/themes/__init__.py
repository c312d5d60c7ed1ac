"""Themes: the codebook and its rule language, tagging, words in context, evaluation."""
