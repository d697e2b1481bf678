"""Frozen copies of engine/store/tables.py as released before schema migrations: 9a7ebdc (the
last such release) and 18f2fe2 (the first, without the indexes and tables added since). Stores
made by those releases are `metadata.create_all` of these; never edit them."""
