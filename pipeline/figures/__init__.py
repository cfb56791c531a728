"""The figures ``evaluate`` draws: results (confusion, mistakes, curves) and what was learned."""
