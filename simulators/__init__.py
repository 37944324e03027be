"""Reference implementations of the four systems of record.

Each is a Starlette app with its own storage that speaks its vendor's wire
format (Salesforce REST, Salesforce-style contracts, Stripe, NetSuite SuiteTalk
REST). They are separate "external" systems: nothing here imports the gateway.
"""
