"""Past one machine (issue 15): the hub's link to its host agents, and the host agent.

channel.py and liveness.py are the pure rules (exactly once, in order; who is alive);
the rest moves frames over TCP+CURVE (common/bus_auth.py) and relays them.
"""
