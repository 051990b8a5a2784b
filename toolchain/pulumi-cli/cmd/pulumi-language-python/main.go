// Command pulumi-language-python is K2's Python language host for the Pulumi engine.
//
// Pulumi's own host lives in a Go module that the module proxy reachable here does not serve, so this
// small host is built beside the CLI from the sdk/v3 module that is served. It does what the engine
// needs for preview, up, destroy and policy packs: it runs the program through the SDK's
// `pulumi-language-python-exec` shim (kept next to this binary), passes config and secret keys in
// the environment variables the SDK reads, and runs plugins (policy packs) with the same Python.
// Dependency installation and code generation are left to the project's own scripts.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Stamped by the build: -X main.version=v3.x.y
var version = "dev"

// The SDK's exec shim exits with this code after it has shown the user an actionable message.
const bailExitCode = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	execShim      string
}

func main() {
	// The engine passes flags (-tracing, -root, runtime options) and then its own address.
	var engine string
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			engine = a
		}
	}
	self, err := os.Executable()
	if err != nil {
		fatal(err)
	}
	shim := filepath.Join(filepath.Dir(self), "pulumi-language-python-exec")
	if _, err := os.Stat(shim); err != nil {
		fatal(fmt.Errorf("missing executor %s (the toolchain build copies it from the sdk/v3 module): %w", shim, err))
	}
	cancel := make(chan bool)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(s, &host{engineAddress: engine, execShim: shim})
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fatal(err)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}

func (h *host) Handshake(ctx context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.EngineAddress != "" {
		h.engineAddress = req.EngineAddress
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// Plugins are installed by the toolchain build and found on demand, so none are announced here.
func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// Dependencies come from the project's uv.lock, installed by its bootstrap script.
func (h *host) InstallDependencies(*pulumirpc.InstallDependenciesRequest, grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]) error {
	return nil
}

func (h *host) GetProgramDependencies(context.Context, *pulumirpc.GetProgramDependenciesRequest) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	py, _ := exec.LookPath(pythonCommand(nil))
	return &pulumirpc.AboutResponse{Executable: py, Version: version}, nil
}

func (h *host) RuntimeOptionsPrompts(context.Context, *pulumirpc.RuntimeOptionsRequest) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// pythonCommand picks the interpreter: the `virtualenv` runtime option, then PULUMI_PYTHON_CMD, then python3.
func pythonCommand(options *structpb.Struct) string {
	if options != nil {
		if venv := options.GetFields()["virtualenv"].GetStringValue(); venv != "" {
			return filepath.Join(venv, "bin", "python")
		}
	}
	if cmd := os.Getenv("PULUMI_PYTHON_CMD"); cmd != "" {
		return cmd
	}
	return "python3"
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	program := req.GetProgram()
	if info != nil && info.ProgramDirectory != "" {
		program = filepath.Join(info.ProgramDirectory, info.EntryPoint)
	}
	if program == "" {
		program = "."
	}
	args := []string{"-u", h.execShim,
		"--monitor", req.MonitorAddress,
		"--engine", h.engineAddress,
		"--project", req.Project,
		"--stack", req.Stack,
		"--pwd", req.Pwd,
		"--dry_run", strconv.FormatBool(req.DryRun),
		"--parallel", strconv.Itoa(int(req.Parallel)),
	}
	if req.Organization != "" {
		args = append(args, "--organization", req.Organization)
	}
	if info != nil && info.RootDirectory != "" {
		args = append(args, "--root_directory", info.RootDirectory)
	}
	args = append(append(args, program), req.Args...)

	config, err := json.Marshal(nonNilMap(req.Config))
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(nonNil(req.ConfigSecretKeys))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, pythonCommand(info.GetOptions()), args...)
	cmd.Dir = req.Pwd
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys),
	)
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == bailExitCode {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the Python program: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin runs a plugin written in Python: for the engine that is a policy pack, started as
// `python -u <pack dir> <engine address>`; its __main__.py serves the analyzer and prints its port.
// -u matters: pulumi_policy writes the port without flushing, and the engine waits for that line.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]) error {
	info := req.GetInfo()
	dir := req.GetProgram()
	if info != nil && info.ProgramDirectory != "" {
		dir = info.ProgramDirectory
	}
	if _, err := os.Stat(filepath.Join(dir, "__main__.py")); err != nil {
		return status.Errorf(codes.InvalidArgument, "plugin %s has no __main__.py to run: %v", dir, err)
	}
	// The engine ends a plugin by cancelling this stream; the analyzer never exits on its own.
	args := append([]string{"-u", dir}, req.Args...)
	cmd := exec.CommandContext(server.Context(), pythonCommand(info.GetOptions()), args...)
	cmd.Dir = req.Pwd
	// req.Env is the whole environment the engine chose, including variables it removed on purpose.
	cmd.Env = req.Env
	if len(cmd.Env) == 0 {
		cmd.Env = os.Environ()
	}
	cmd.Stdout = streamWriter(func(b []byte) error {
		return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}})
	})
	cmd.Stderr = streamWriter(func(b []byte) error {
		return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}})
	})
	code := 0
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return status.Errorf(codes.Internal, "could not run plugin %s: %v", dir, err)
		}
		code = exitErr.ExitCode()
	}
	return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)}})
}

type streamWriter func([]byte) error

func (w streamWriter) Write(p []byte) (int, error) {
	// The stream may hold on to the slice: send a copy.
	if err := w(append([]byte(nil), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
