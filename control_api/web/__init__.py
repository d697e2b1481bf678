"""The server's HTTP side: the three Klein apps, auth, problem mapping, OpenAPI."""
