"""hotspots: crime and ASB hotspot maps and patrol tasking for Community Safety Partnerships."""

__version__ = "0.1.0"
