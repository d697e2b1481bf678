"""The store's revisions, oldest first (engine/store/schema.py lists their ids)."""
