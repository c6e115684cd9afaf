"""The models: building, training (with the fused loss) and capturing attention patterns."""
