/* The services every worker runs, in the order they see messages. Each
 * helper adds one line here. */
#include <stddef.h>

#include "audio_service.h"
#include "input_service.h"
#include "video_service.h"
#include "worker_service.h"

const struct kd_worker_service *const kd_worker_services[] = {
	&kd_video_service,
	&kd_input_service,
	&kd_audio_service,
	NULL,
};
