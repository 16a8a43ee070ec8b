placeholder rootfs.vhd for the vmutils examples: the policy checks that boot files exist, never reads them
