"""Operations: wiring presets, `booth doctor` checks and `booth history` from the journal."""
