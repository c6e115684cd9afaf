# Head knockout (zeroing hook_z): paper Figs. 12–14.
