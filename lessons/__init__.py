"""Lesson content: Markdown files under content/ and runnable exercise solutions."""
