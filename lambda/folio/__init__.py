"""Folio's runtime library: the code the Lambda functions run.

`folio.keys` is the single source of truth for the table's key schema; the CDK
stacks import it too, so the deployed table and the code that queries it can
never disagree about an attribute or index name.
"""
