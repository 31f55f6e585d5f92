// Text output for people: the inventory (`ptrec show`), the plan and the apply report.
// Machines read the JSON forms in json_io.h instead; this text may change between versions.
#pragma once

#include <string>

#include "reconciler/executor.h"
#include "reconciler/model.h"

namespace ptrec {

/// Whether to color output (ANSI escapes).
enum class Color { kNo, kYes };

/// `lspci -nnk`-like table plus IOMMU groups and SR-IOV facts: one row per function
/// (BDF, class, vendor:device, driver, driver_override, IOMMU group, NUMA node, SR-IOV role,
/// interfaces, MSI/MSI-X), then a line each for the IOMMU, kernel and uses that block moves.
std::string RenderHost(const HostState& host, Color color);

/// Terraform-style plan: findings first (refusals, warnings), then one line per action:
/// symbol, subject, what changes (before -> after), and under it the reason, what it
/// disrupts and what it waits for; a summary line last.
std::string RenderPlan(const Plan& plan, Color color);

/// Per-step outcome of an apply, the error that stopped it and whether the run was rolled back.
std::string RenderApply(const Plan& plan, const ApplyResult& result, Color color);

}  // namespace ptrec
