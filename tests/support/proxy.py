"""The in-test TCP proxy (pass / black-hole / reset). It lives in the package so that
`booth bench transport` can use the same one."""

from booth.sim.faultproxy import TcpProxy

__all__ = ["TcpProxy"]
