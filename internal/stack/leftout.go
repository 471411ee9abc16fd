package stack

import (
	"strings"
)

// Resources left out with SkipUnsupported still have references: a
// function's environment names the table it would use, a role's policy
// the queue it would read. Rather than refusing the whole template (which
// would make the flag useless for the common "API + table" application),
// those references resolve to placeholders, and the left-out resource's
// event names everything that refers to it, so nothing is skipped
// silently. A placeholder is never a real resource: calls made with it
// fail at run time, as they would against a service Nimbus does not have.

// leftOutPrefix starts every placeholder name.
const leftOutPrefix = "nimbus-left-out-"

// leftOut is the placeholder of a left-out resource: Ref gives its name,
// Fn::GetAtt of an ARN attribute an ARN of its service, of anything else
// a name made of the resource and the attribute.
func leftOut(id, typ string) *resource {
	return &resource{Resource: Resource{LogicalID: id, Type: typ, Result: Result{PhysicalID: leftOutPrefix + id}}}
}

// leftOutAttr is the placeholder of one attribute of a left-out resource.
func leftOutAttr(id, typ, attr, region, account string) string {
	if strings.HasSuffix(attr, "Arn") {
		svc := "unknown"
		if parts := strings.Split(typ, "::"); len(parts) == 3 {
			svc = strings.ToLower(parts[1])
		}
		return "arn:aws:" + svc + ":" + region + ":" + account + ":" + leftOutPrefix + id
	}
	return leftOutPrefix + id + "-" + attr
}
