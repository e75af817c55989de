"""API keys: their format and crypto, records, lifecycle service, DynamoDB store and reader,
rotation, audit trail and leak reports."""
