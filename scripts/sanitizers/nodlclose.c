/*
 * Preloaded (LD_PRELOAD) into the sanitizer test run by
 * scripts/test.d/20-sanitize.sh: dlclose() does nothing, so every shared
 * library stays mapped until exit.
 *
 * Why: LeakSanitizer checks at exit. Memory that a library still points to
 * from its own globals is reachable while the library is loaded, but once
 * it is unloaded (Mesa's llvmpipe driver is dlclosed by the Vulkan loader at
 * vkDestroyInstance; the core dlcloses plugins) those pointers vanish and
 * the block is reported as a leak from "<unknown module>", which can be
 * neither attributed nor suppressed. Keeping libraries mapped makes a real
 * leak's stack name its library and function, ours included.
 */
int dlclose(void *handle);

int dlclose(void *handle)
{
    (void)handle;
    return 0;
}
