"""Simulation and test tooling, in one place (as gpiozero keeps its mock pins in one module).

Nothing in the product imports this package except the commands that exist to simulate:
``booth demo`` and ``booth bench``. Here live the virtual ALSA devices (file PCMs paced in real
time), the in-memory fake mic and speaker, the TCP fault and jitter proxies that model a Wi-Fi
drop, the scripted demo booth, the supervised ``booth run`` child with its own
``NOTIFY_SOCKET``, an event loop on virtual time for the timing tests of the reconnect logic,
and a hostile voice service with the child-process probe that runs the Python API against it.
"""
