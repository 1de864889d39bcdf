"""The credit query API for lenders (issue 14): clients, authorisations, audit, history."""
