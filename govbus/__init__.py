"""govbus: the runtime every function shares, and the tools around it."""
