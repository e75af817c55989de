"""The DynamoDB stores the services are handed (PynamoDB): the key store, the role store, and
what both write through: the tables' models, items, transactions, counts and search entries."""
