"""The verification core every authorizer face shares, and what it needs of API Gateway."""
