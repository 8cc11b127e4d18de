"""Places VMs under one migration policy: examples/typescript, through the Python SDK.

The placements come from stack config (`vms`: VM name -> host, optionally `pools`: VM name ->
storage pool); changing one and running `pulumi up` migrates that VM live. The hosts are the
provider's configuration (`vmplacement:hosts` and the ssh settings), so the program names no
address.
"""

import re

import pulumi
import pulumi_vmplacement as vmplacement


def schema_name(name: str) -> str:
    """bytes_moved -> bytesMoved, from_ -> from: output types reach the program with Python
    names; the stack outputs keep the schema's, as the TypeScript example's do."""
    return re.sub(r"_(\w)", lambda m: m.group(1).upper(), name.rstrip("_"))


config = pulumi.Config()

policy = vmplacement.MigrationPolicy(
    "standard",
    max_downtime_ms=300,
    downtime_ladder_ms=[300, 500, 1000],
    allow_post_copy=True,
    allow_offline_fallback=False,
    completion_timeout_seconds_per_gib=60,
    bandwidth_mibps=config.get_int("bandwidthMibps") or 0,
)

vms: dict = config.require_object("vms")
pools: dict = config.get_object("pools") or {}

placements = {
    vm: vmplacement.VmPlacement(
        vm,
        domain=vm,
        host=host,
        storage_pool=pools.get(vm, "local"),
        policy=policy.spec,
        )
    for vm, host in vms.items()
}

pulumi.export("where", {vm: p.current_host for vm, p in placements.items()})
pulumi.export(
    "lastMigrations",
    {
        vm: p.last_migration.apply(lambda r: r and {schema_name(k): v for k, v in r.items()})
        for vm, p in placements.items()
    },
)
