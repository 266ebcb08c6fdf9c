/* nodewright SDK: everything a plugin author needs, in one include. */
#ifndef NODEWRIGHT_NODEWRIGHT_H
#define NODEWRIGHT_NODEWRIGHT_H
#include <nodewright/types.h>
#include <nodewright/plugin.h>
#include <nodewright/provider.h>
#include <nodewright/pricing.h>
#include <nodewright/strategy.h>
#endif
