"""The CRM simulator: a Salesforce org holding customer Accounts and their hierarchy."""
