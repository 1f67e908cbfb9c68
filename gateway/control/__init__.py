"""The control loop: rule files → desired state of every AC unit → verified writes.

Pure policy (``rules`` — the rule file's schema and compiler —, ``layers`` — one
module per precedence layer —, ``engine``, which orders them, ``state``,
``demand``, ``protection``, ``overrides``, ``plan``) decides; ``actuator``,
``audit`` and ``loop`` do the I/O. docs/rules.md is the reference.
"""
