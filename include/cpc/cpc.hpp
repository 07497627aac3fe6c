// The whole cpc runtime: cooperative threads compiled to events.
#pragma once

#include "cpc/attach.hpp"
#include "cpc/condvar.hpp"
#include "cpc/interrupts.hpp"
#include "cpc/io.hpp"
#include "cpc/io_op.hpp"
#include "cpc/io_wait.hpp"
#include "cpc/loop.hpp"
#include "cpc/scheduler.hpp"
#include "cpc/signal_watch.hpp"
#include "cpc/sleep.hpp"
#include "cpc/spawn.hpp"
#include "cpc/task.hpp"
#include "cpc/task_group.hpp"
#include "cpc/thread_pool.hpp"
#include "cpc/with_timeout.hpp"
#include "cpc/yield.hpp"
