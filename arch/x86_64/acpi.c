/* Placeholder until the ACPI builder lands. */
#include <errno.h>
#include "arch/x86_64/acpi.h"
int acpi_build_tables(const struct acpi_platform *p, uint8_t *area, uint64_t area_gpa,
		      size_t area_size, uint64_t *rsdp_gpa)
{
	(void)p; (void)area; (void)area_gpa; (void)area_size; (void)rsdp_gpa;
	return -ENOSYS;
}
uint8_t acpi_checksum(const void *data, size_t len)
{
	const uint8_t *b = data; uint8_t s = 0;
	while (len--) s += *b++;
	return s;
}
