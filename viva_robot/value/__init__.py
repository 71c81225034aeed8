"""The video-trained value function: ICVF networks, goal/intent sampling, the expectile TD objective,
the pretraining loop (single process or torchrun/DDP) and the diagnostics that show what it learned."""
