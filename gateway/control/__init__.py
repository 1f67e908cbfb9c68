"""The control loop: rule files → desired state of every AC unit → verified writes.

Pure policy (``rules``, ``calendar``, ``tariff``, ``engine``, ``demand``,
``protection``, ``overrides``, ``plan``) decides; ``actuator``, ``audit`` and
``loop`` do the I/O. docs/rules.md is the reference.
"""
