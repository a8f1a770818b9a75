"""Classical replenishment policies and the exact optimum; may import numpy, scipy, statsmodels and `envs`,
never torch."""
