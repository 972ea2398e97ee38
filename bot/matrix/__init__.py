"""The Matrix front, on matrix-nio: for volunteers and coordinators Telegram cannot reach.

It imports no aiogram. `client.py` logs in, syncs and sends; `state.py` keeps the sync
token and the handled event ids in PostgreSQL; `conversation.py` decides what to answer.
"""
