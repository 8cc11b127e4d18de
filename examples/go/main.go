// Places VMs under one migration policy: examples/typescript, through the Go SDK. The placements
// come from stack config (`vms`: VM name -> host, optionally `pools`: VM name -> storage pool);
// changing one and running `pulumi up` migrates that VM live. The hosts are the provider's
// configuration (`vmplacement:hosts` and the ssh settings), so the program names no address.
package main

import (
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
	"github.com/vmplacement/vmplacement/sdk/go/vmplacement"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		cfg := config.New(ctx, "")
		var vms, pools map[string]string
		cfg.RequireObject("vms", &vms)
		_ = cfg.TryObject("pools", &pools)

		policy, err := vmplacement.NewMigrationPolicy(ctx, "standard", &vmplacement.MigrationPolicyArgs{
			MaxDowntimeMs:                  pulumi.Int(300),
			DowntimeLadderMs:               pulumi.IntArray{pulumi.Int(300), pulumi.Int(500), pulumi.Int(1000)},
			AllowPostCopy:                  pulumi.Bool(true),
			AllowOfflineFallback:           pulumi.Bool(false),
			CompletionTimeoutSecondsPerGib: pulumi.Int(60),
			BandwidthMibps:                 pulumi.Int(cfg.GetInt("bandwidthMibps")),
		})
		if err != nil {
			return err
		}

		// Sorted, so resources register in the same order on every run.
		names := make([]string, 0, len(vms))
		for vm := range vms {
			names = append(names, vm)
		}
		sort.Strings(names)

		where := pulumi.StringMap{}
		for _, vm := range names {
			pool, ok := pools[vm]
			if !ok {
				pool = "local"
			}
			placement, err := vmplacement.NewVmPlacement(ctx, vm, &vmplacement.VmPlacementArgs{
				Domain:      pulumi.String(vm),
				Host:        pulumi.String(vms[vm]),
				StoragePool: pulumi.String(pool),
				Policy:      policy.Spec.ToPolicySpecPtrOutput(),
			})
			if err != nil {
				return err
			}
			where[vm] = placement.CurrentHost
		}
		ctx.Export("where", where)
		return nil
	})
}
