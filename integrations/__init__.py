"""Adapters to the outside: Slack's Web API, the database, Redis (and later Salesforce, OpenAI)."""
