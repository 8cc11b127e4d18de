"""E2E test program: the provider's functions through the generated Python SDK, as the
TypeScript one (test/e2e/programs/functions) calls them."""

import pulumi
import pulumi_vmplacement as vmplacement

config = pulumi.Config()
domain = config.require("domain")

hosts = vmplacement.get_hosts().hosts
pulumi.export("hostNames", [h.name for h in hosts])
pulumi.export("reachable", [h.name for h in hosts if h.reachable])
pulumi.export("running", {h.name: h.running_domains for h in hosts})

placement = vmplacement.get_placement(domain=domain)
pulumi.export("currentHost", placement.current_host)
pulumi.export("disks", [d.target for d in placement.current_disks])

plan = vmplacement.plan_placement(domain=domain, host=config.require("target"))
pulumi.export("planMoves", plan.moves)
pulumi.export("planSummary", plan.summary)
pulumi.export("planMode", plan.planned_migration.mode if plan.planned_migration else None)
