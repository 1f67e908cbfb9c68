"""DL/T 645-2007 and CJ/T 188-2004 meters on a simulated RS-485 line.

``memory`` lays a meter's values out by data identifier from the same profile
the gateway decodes with; ``line`` answers the frames of both protocols on a
pseudo-terminal or a serial server's TCP port, with wire time and faults.
"""
