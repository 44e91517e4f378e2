"""Policy knowledge base: documents, chunking, the embedding model, the hybrid index, search
with a calibrated decision, and the chat answer composer.

Entry points: :func:`bot.knowledge.search.get_searcher` / :class:`~bot.knowledge.search.Searcher`
for retrieval, :func:`bot.knowledge.answer.answer_question` for a chat reply, and the CLI
``python -m bot.knowledge build|search|answer|eval|calibrate``. Kept import-light: importing the
package loads neither torch nor faiss.
"""
