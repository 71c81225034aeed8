"""viva-robot: video-trained value functions (ViVa) guiding online RL on simulated and real robot arms."""

__version__ = "0.1.0"
