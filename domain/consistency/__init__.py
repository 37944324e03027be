"""The cross-system consistency view: rules, policy, evaluation, the sweep."""
