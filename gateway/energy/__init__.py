"""Energy and cost accounting, savings against the contract baseline, and what-if runs.

- ``tariff``      prices by time-of-use period, month and day type; demand charge; versions
- ``accounting``  15-minute intervals from the meters' counters (wrap, reset, gaps)
- ``live``        the accountant inside ``escogw run``: stream → ``energy/interval``
- ``stats``       the public-institution statistics (kWh, kgce per m² and per person)
- ``baseline``    daily CDD26 / HDD18 / workday regression, ASHRAE Guideline 14 checks,
                  savings and the trusteeship view
- ``influx``      InfluxQL reads (v1 ``/query``) for the report
- ``report``      ``escogw report``: HTML with SVG plots, plus CSV
- ``whatif``      ``escogw whatif``: a day of a virtual site under a rule set, compared
- ``virtual_site`` the simulator's physics, the real engine and actuator on a virtual clock
- ``kpis``        the what-if's KPIs, one collector each
- ``svg``         a small typed SVG chart module (no plotting dependency)

Reference: docs/energy.md.
"""
