// Checkpointing
