"""Operator tools that ship with Folio but run on a workstation, never in a function."""
