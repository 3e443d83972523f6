"""The booth's front panel: the talk button and the status LEDs.

``patterns`` is pure (what each LED pattern looks like over time); ``display`` is pure (which
pattern each booth state shows); ``button`` is the pure press/release/double-press detector;
``gpio`` is the gpiozero adapter. Importing this package does not import gpiozero, so a booth
without GPIO never loads it.
"""
