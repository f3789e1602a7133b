"""Folio's CDK code: the Stage, its stacks, their components, config and cdk-nag wiring."""
