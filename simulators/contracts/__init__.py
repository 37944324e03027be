"""The Contracts/CPQ simulator: a Salesforce-style org of contracts, lines and versions."""
