"""Online RL: the SAC agent (twin/ensemble critics, tanh-Gaussian actor, learned temperature) and its replay
buffer. The training loop and the guidance modes (`sparse`, `viva`, `critic-init`) build on these."""
